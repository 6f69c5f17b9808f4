/** io/: files at the Node edge: safetensors, and model weights in the official layout. */
export { loadWeights, saveWeights } from './weights.js';
export { readSafetensors, writeSafetensors } from './safetensors.js';
