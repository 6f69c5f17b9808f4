/** data/: Sudoku solving, rating, generation, augmentation, CSV, the official dataset directory, downloads. */
export { type SolveResult, Solver, ratePuzzle } from './sudoku/solver.js';
export {
  type SudokuSize,
  type Geometry,
  SUDOKU_SIZES,
  geometry,
  parseGrid,
  formatGrid,
  solutionProblem,
  consistencyProblem,
} from './sudoku/grid.js';
export {
  type GenerateOptions,
  type GenerateReport,
  generateSudoku,
  generateSudokuFile,
} from './sudoku/generate-file.js';
export { type Transform, randomTransform, applyTransform, inverseTransform } from './sudoku/augment.js';
export {
  type SudokuRow,
  type CsvReadOptions,
  type CsvReadReport,
  CsvError,
  readSudokuCsv,
  formatCsvRow,
  csvHeader,
} from './sudoku/csv.js';
export { type BuildOptions, type BuildReport, buildSudokuDataset } from './sudoku/build.js';
export {
  type DatasetMetadata,
  type DatasetSplit,
  readDatasetSplit,
  writeDatasetSplit,
  writeIdentifiers,
  datasetJson,
} from './dataset.js';
export { type NpyArray, type NpyDtype, readNpy, writeNpy, encodeNpy, decodeNpy } from './npy.js';
export {
  type DownloadReport,
  SUDOKU_EXTREME,
  downloadFile,
  downloadSudokuExtreme,
  hubUrl,
  defaultCacheDir,
} from './download.js';
export { Rng } from './rng.js';
