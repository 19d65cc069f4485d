/**
 * Every lab unit and experiment by name. The worker processes import this module to run units;
 * runLab and the per-experiment functions use it to plan and summarise.
 */
import type { Experiment, Unit } from './experiment.js';
import { gptUnits } from './gpt-runs.js';
import { initExperiment, initUnits } from './experiments/init.js';
import { layoutExperiment, layoutUnits } from './experiments/layout.js';
import { layernormExperiment, layernormUnits } from './experiments/layernorm.js';
import { mergedQkExperiment, mergedQkUnits } from './experiments/merged-qk.js';
import { tyingExperiment, tyingUnits } from './experiments/tying.js';

export const UNITS: Record<string, Unit> = { ...initUnits, ...layoutUnits, ...layernormUnits, ...mergedQkUnits, ...tyingUnits, ...gptUnits };

/** The five experiments, in report order. */
export const EXPERIMENT_LIST: Experiment[] = [initExperiment, layoutExperiment, layernormExperiment, mergedQkExperiment, tyingExperiment];
