/** Core checkpoint / tensor-file I/O (browser-safe: no Node built-ins). Node file helpers live in ./node_files.ts. */
export { readSafetensors, writeSafetensors, type SafetensorsFile } from './safetensors.js';
export { f16ToF32, f32ToF16 } from '../half.js';
export { openZip, inflateRaw, crc32, type ZipArchive, type ZipEntry } from './zip.js';
export {
  loadPickle,
  loadPickleAt,
  PyGlobal,
  PY_SETSTATE,
  type PyConstructor,
  type PyStateful,
  type PickleOptions,
  type PickleResult,
} from './pickle.js';
export { readTorchCheckpoint, readCheckpoint, isZip, isLegacyTorch, isSafetensors, torchAllowedGlobals, loadTorchPickle, type TorchLoadOptions } from './torch.js';
export { checkStateDict, diffStateDict, type CheckStateDictOptions, type StateDictDiff } from './state_dict.js';
export { syntheticWeights, syntheticInput, weightsSha256, comparePyStr, fnv1a32, lowbias32, type ShapeSpec } from './synthetic.js';
