/** models: complete networks built from nn. */
export { GPT, Block, MLP, resolveGPTConfig, GPT_CONFIG_KEYS } from './gpt.js';
export type { GPTConfig, ResolvedGPTConfig, GPTOutput, GPTForwardOptions, GenerateOptions } from './gpt.js';
export { inferGPTConfig, gptFromNanoGPT, gptFromHFGPT2, gptFromGPTNeoX } from './pretrained.js';
export type { GPTNeoXConfig } from './pretrained.js';
export { loadNanoGPT, loadTorchModule } from './torch-checkpoint.js';
export type { NanoGPTCheckpoint, NanoGPTModelArgs } from './torch-checkpoint.js';
