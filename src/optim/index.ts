/** optim: SGD, Adam, AdamW, and learning-rate schedules. */
export { Optimizer } from './optimizer.js';
export type { OptimizerStateDict, ParamGroup, ParamsInput } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { LRScheduler, LambdaLR, CosineWarmupLR, cosineWarmupFactor } from './lr-scheduler.js';
export type { CosineWarmupOptions } from './lr-scheduler.js';
