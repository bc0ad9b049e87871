export { copyMain, copyParser, parseCopyArgs, DEFAULT_JOBS, type CopyArgs, type VerifySameArgs, type ParsedCopy } from './copy.js';
