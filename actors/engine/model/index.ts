// Model packages, GGUF import/export and tokenizers (docs/model-format.md).

export {
  FORMAT, SHARD_MAGIC, MANIFEST_FILE, TOKENIZER_FILE,
  writePackage, readManifest, loadShard, loadTokenizer, readTokenizerFile, verifyPackage, reshard,
  balancedRanges, shardCosts, validateRanges, parameterCount,
  type Manifest, type ManifestShard, type ManifestTensor, type ModelSource, type TokenizerRef,
  type WritePackageOptions, type LoadOptions, type VerifyReport, type ReshardOptions
} from './package.js'
export { merkleRoot, merkleNode, tensorLeaf, modelRoot, canonicalJson, canonicalDescriptor } from './merkle.js'
export { shardTensors, shardTensorSpecs, assembleShard, type NamedTensor, type TensorSpec } from './tensors.js'
export { GgufReader, type GgufTensorInfo } from './gguf-read.js'
export { writeGguf, type GgufTensorToWrite, type GgufWriteType } from './gguf-write.js'
export { importGguf, planGgufImport, type ImportGgufOptions, type ImportProgress } from './gguf-import.js'
export { exportGguf, writeFloatModelGguf, type ExportGgufOptions, type ExportType } from './gguf-export.js'
export { synthPackage, type SynthPackageOptions } from './synth-package.js'
export {
  createTokenizer, bytesTokenizerSpec, TokenType,
  type Tokenizer, type TokenizerSpec, type BytesTokenizerSpec, type LlamaTokenizerSpec, type Gpt2TokenizerSpec, type EncodeOptions, type DecodeOptions
} from './tokenizer.js'
