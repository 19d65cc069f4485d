/** train: the training loop and its checkpoints. */
export { Trainer, DEFAULT_TRAIN_OPTIONS } from './trainer.js';
export type { TrainOptions, StepRecord, EvalRecord } from './trainer.js';
export { saveCheckpoint, resumeTrainer, loadCheckpointModel, readCheckpointInfo, latestCheckpoint, readHistory, CHECKPOINT_FORMAT, DEFAULT_KEEP } from './checkpoint.js';
export type { SaveCheckpointOptions } from './checkpoint.js';
export { exportToPyTorch, importFromPyTorch, trainPyPath, EXPORT_FORMAT } from './export.js';
export type { ExportConfig } from './export.js';
export { openCheckpoint, detectCheckpoint, modelFromCheckpoint, readModelConfig } from './open-checkpoint.js';
export type { Checkpoint, CheckpointKind, CheckpointLocation, OpenOptions } from './open-checkpoint.js';
export type { TrainState, HistoryRef } from './checkpoint-format.js';
export { loadTextData, readTextFile, BROWN_CORPUS } from './text-source.js';
export { detectTorch, scaleOutCommands, shellQuote } from './torch-env.js';
export type { TorchEnv, ScaleOutCommands } from './torch-env.js';
