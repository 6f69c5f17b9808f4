/**
 * train/: the training loop, optimizers, schedule, carry with ACT halting, evaluation, checkpoints,
 * and `run` (run.ts): a whole training run (resume, run directory, cadence, interruption) as one call.
 */
export {
  type TrainConfig,
  defaultTrainConfig,
  trainPresets,
  resolveTrainConfig,
  parseSets,
  SHAPE_KEYS,
} from './config.js';
export { type LrSchedule, lrAt } from './schedule.js';
export { type OptState, optInit, denseStep, puzzleEmbStep, emaInit, emaStep, emaWeightsInto } from './optim.js';
export { type DataCursor, TrainSampler, newBatch, copyExample, splitSize, testBatch } from './data.js';
export { type TrainCarry, type HaltOptions, newTrainCarry, fillHalted, updateHalting } from './carry.js';
export { type MetricSums, type TrainMetrics, emptySums, addStep, summarize } from './metrics.js';
export { type TrainState, createTrainState, modelConfigFor, runLength, checkActsFit } from './state.js';
export {
  type Workspace,
  type TrainHooks,
  type LogRecord,
  createWorkspace,
  trainStep,
  train,
  evalWeights,
  learningRates,
} from './loop.js';
export { type EvalOptions, type EvalResult, evaluate } from './evaluate.js';
export {
  type Sidecar,
  type LoadedModel,
  CHECKPOINT_FORMAT,
  saveCheckpoint,
  hostSnapshot,
  findCheckpoint,
  readSidecar,
  loadTrainState,
  loadModel,
  inferModelConfig,
  writeFileAtomic,
} from './checkpoint.js';
export { type SolveStep, type SolveResult, parsePuzzle, solvePuzzle } from './solve.js';
export {
  type RunConfig,
  type RunData,
  type RunStart,
  type RunCallbacks,
  type RunResult,
  run,
  readRunData,
  checkRunData,
} from './run.js';
