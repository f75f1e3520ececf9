// crossrank.ts — AssemblyScript SDK for crossrank plugins (ABI version 1,
// see sdk/ABI.md).
//
// A plugin's entry file calls register() at top level with its stages and
// handlers and re-exports the ABI functions:
//
//   export { crossrank_abi_version, crossrank_stages, crossrank_buffer,
//            crossrank_configure, crossrank_run } from "<path>/sdk/assemblyscript/crossrank";
//
// and is built with asc using examples/plugins/assemblyscript/asconfig.json
// (exportStart _initialize, abort aliased to this SDK's abort, which traps).
//
// Handlers work on raw guest memory (ptr, len) and append their result to
// the Output; the SDK reuses its buffers, so a call allocates nothing.

export const STAGE_QUERY: i32 = 1;
export const STAGE_PASSAGE: i32 = 2;
export const STAGE_TRUNCATE: i32 = 4;
export const KIND_TEXT: u8 = 0;
export const KIND_JSON: u8 = 1;
export const LOG_DEBUG: i32 = 0;
export const LOG_INFO: i32 = 1;
export const LOG_WARN: i32 = 2;
export const LOG_ERROR: i32 = 3;

// @ts-ignore: decorator
@external("crossrank", "count_tokens")
declare function hostCountTokens(ptr: usize, len: i32): i32;
// @ts-ignore: decorator
@external("crossrank", "word_tokens")
declare function hostWordTokens(ptr: usize, len: i32, out: usize, outCap: i32, limit: i32): i32;
// @ts-ignore: decorator
@external("crossrank", "log")
declare function hostLog(level: i32, ptr: usize, len: i32): void;

/** A growable byte buffer in linear memory, owned by the SDK. */
export class Output {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;

  reserve(n: i32): void {
    if (this.len + n <= this.cap) return;
    let c = this.cap > 0 ? this.cap : 4096;
    while (c < this.len + n) c *= 2;
    this.ptr = this.ptr == 0 ? heap.alloc(<usize>c) : heap.realloc(this.ptr, <usize>c);
    this.cap = c;
  }

  /** Appends len bytes at ptr. */
  append(ptr: usize, len: i32): void {
    this.reserve(len);
    memory.copy(this.ptr + <usize>this.len, ptr, <usize>len);
    this.len += len;
  }

  appendByte(b: u8): void {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, b);
    this.len += 1;
  }

  appendU32(v: u32): void {
    this.reserve(4);
    store<u32>(this.ptr + <usize>this.len, v);
    this.len += 4;
  }

  appendString(s: string): void {
    const b = String.UTF8.encode(s);
    this.append(changetype<usize>(b), b.byteLength);
  }
}

/** configure(configPtr, configLen) returns null or an error message. */
export type ConfigureFn = (ptr: usize, len: i32) => string | null;
/** query(qPtr, qLen, out) appends the new query. */
export type QueryFn = (qPtr: usize, qLen: i32, out: Output) => string | null;
/** passage(qPtr, qLen, docPtr, docLen, kind, out) appends the passage text. */
export type PassageFn = (qPtr: usize, qLen: i32, dPtr: usize, dLen: i32, kind: u8, out: Output) => string | null;
/** truncate(qPtr, qLen, pPtr, pLen, maxTokens, out) appends the cut passage. */
export type TruncateFn = (qPtr: usize, qLen: i32, pPtr: usize, pLen: i32, maxTokens: i32, out: Output) => string | null;

let stages: i32 = 0;
let acceptJSON: bool = false;
let configureFn: ConfigureFn = (p: usize, l: i32): string | null => null;
let queryFn: QueryFn = (q: usize, ql: i32, o: Output): string | null => "no query stage";
let passageFn: PassageFn = (q: usize, ql: i32, d: usize, dl: i32, k: u8, o: Output): string | null => "no passage stage";
let truncateFn: TruncateFn = (q: usize, ql: i32, d: usize, dl: i32, m: i32, o: Output): string | null => "no truncate stage";

/** Registers the plugin's stages (a bit set of STAGE_*) and handlers. */
export function register(stageBits: i32, configure: ConfigureFn, query: QueryFn | null, passage: PassageFn | null,
  truncate: TruncateFn | null, acceptJSONDocs: bool = false): void {
  stages = stageBits;
  configureFn = configure;
  if (query) queryFn = query;
  if (passage) passageFn = passage;
  if (truncate) truncateFn = truncate;
  acceptJSON = acceptJSONDocs;
}

let inPtr: usize = 0;
let inCap: i32 = 0;
const out = new Output();

/** Token count of [ptr, ptr+len) with the serving model's tokenizer (-1: none). */
export function countTokens(ptr: usize, len: i32): i32 {
  return hostCountTokens(ptr, len);
}

let wordsPtr: usize = 0;
let wordsCap: i32 = 0;

/** Splits text at white space with token counts per word; read them with
 *  wordStart/wordEnd/wordTokenCount. With limit > 0 the host stops after
 *  the word at which the total first exceeds it. Returns the word count. */
export function wordTokens(ptr: usize, len: i32, limit: i32): i32 {
  while (true) {
    if (wordsCap == 0) {
      wordsCap = 256;
      wordsPtr = heap.alloc(<usize>wordsCap * 12);
    }
    const n = hostWordTokens(ptr, len, wordsPtr, wordsCap, limit);
    if (n < 0) return 0;
    if (n <= wordsCap) return n;
    wordsCap = n;
    wordsPtr = heap.realloc(wordsPtr, <usize>wordsCap * 12);
  }
  return 0;
}
export function wordStart(i: i32): i32 { return <i32>load<u32>(wordsPtr + <usize>i * 12); }
export function wordEnd(i: i32): i32 { return <i32>load<u32>(wordsPtr + <usize>i * 12 + 4); }
export function wordTokenCount(i: i32): i32 { return <i32>load<u32>(wordsPtr + <usize>i * 12 + 8); }

/** Writes a message to the host's log. */
export function log(level: i32, msg: string): void {
  const b = String.UTF8.encode(msg);
  hostLog(level, changetype<usize>(b), b.byteLength);
}

/** abort traps; asconfig.json aliases AssemblyScript's abort to it. */
export function crossrankAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}

function pack(): i64 {
  return <i64>((<u64>out.ptr << 32) | <u64><u32>out.len);
}

function fail(msg: string): i64 {
  out.len = 0;
  out.appendByte(1);
  out.appendString(msg);
  return pack();
}

export function crossrank_abi_version(): i32 { return 1; }

export function crossrank_stages(): i32 { return stages; }

export function crossrank_buffer(size: i32): usize {
  if (size < 0) return 0;
  if (size > inCap || inPtr == 0) {
    inCap = size + size / 4 + 64;
    inPtr = inPtr == 0 ? heap.alloc(<usize>inCap) : heap.realloc(inPtr, <usize>inCap);
  }
  return inPtr;
}

export function crossrank_configure(len: i32): i64 {
  const err = configureFn(inPtr, len);
  if (err !== null) return fail(err);
  out.len = 0;
  out.appendByte(0);
  return pack();
}

export function crossrank_run(stage: i32, len: i32): i64 {
  if (len < 12) return fail("crossrank: request truncated");
  const end = inPtr + <usize>len;
  let p = inPtr;
  const maxTokens = <i32>load<u32>(p);
  const qLen = <i32>load<u32>(p + 4);
  p += 8;
  if (<usize>qLen + 4 > end - p) return fail("crossrank: bad query length");
  const qPtr = p;
  p += <usize>qLen;
  const n = <i32>load<u32>(p);
  p += 4;
  out.len = 0;
  out.appendByte(0);
  if (stage == STAGE_QUERY) {
    const at = out.len;
    out.appendU32(0);
    const err = queryFn(qPtr, qLen, out);
    if (err !== null) return fail(err);
    store<u32>(out.ptr + <usize>at, <u32>(out.len - at - 4));
    out.appendU32(0);
    return pack();
  }
  out.appendU32(0);
  out.appendU32(<u32>n);
  for (let i = 0; i < n; i++) {
    if (end - p < 5) return fail("crossrank: item truncated");
    const kind = load<u8>(p);
    const dLen = <i32>load<u32>(p + 1);
    p += 5;
    if (<usize>dLen > end - p) return fail("crossrank: bad item length");
    const dPtr = p;
    p += <usize>dLen;
    if (kind == KIND_JSON && (stage == STAGE_TRUNCATE || !acceptJSON)) {
      out.appendByte(kind);
      out.appendU32(<u32>dLen);
      out.append(dPtr, dLen);
      continue;
    }
    out.appendByte(KIND_TEXT);
    const at = out.len;
    out.appendU32(0);
    let err: string | null = "crossrank: unknown stage";
    if (stage == STAGE_PASSAGE) err = passageFn(qPtr, qLen, dPtr, dLen, kind, out);
    else if (stage == STAGE_TRUNCATE) err = truncateFn(qPtr, qLen, dPtr, dLen, maxTokens, out);
    if (err !== null) return fail(err);
    store<u32>(out.ptr + <usize>at, <u32>(out.len - at - 4));
  }
  return pack();
}
