/** models: complete networks built from nn. */
export { GPT, Block, MLP, resolveGPTConfig } from './gpt.js';
export type { GPTConfig, ResolvedGPTConfig, GPTOutput, GenerateOptions } from './gpt.js';
