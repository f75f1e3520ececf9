// snippet — the AssemblyScript SDK's example crossrank plugin. The same
// plugin exists for every SDK (examples/plugins/{go,c,assemblyscript}) and
// behaves the same:
//
//   passage:  every <...> tag becomes a space, runs of ASCII white space
//             become one space, the ends are trimmed (JSON documents pass);
//   truncate: keeps the leading words that fit the token budget, the smaller
//             of config max_tokens and the request's (0: unset; none: as is).
//
// Config: {"max_tokens": N} (optional).
import {
  register, Output, wordTokens, wordStart, wordEnd, wordTokenCount,
  STAGE_PASSAGE, STAGE_TRUNCATE,
} from "../../../sdk/assemblyscript/crossrank";

export {
  crossrank_abi_version, crossrank_stages, crossrank_buffer, crossrank_configure, crossrank_run,
} from "../../../sdk/assemblyscript/crossrank";

let configMaxTokens: i32 = 0;

function configure(ptr: usize, len: i32): string | null {
  const s = String.UTF8.decodeUnsafe(ptr, <usize>len);
  configMaxTokens = 0;
  const at = s.indexOf("\"max_tokens\"");
  if (at < 0) return null;
  let j = at + 12;
  while (j < s.length && (s.charCodeAt(j) == 32 || s.charCodeAt(j) == 58)) j++;
  if (j >= s.length || s.charCodeAt(j) < 48 || s.charCodeAt(j) > 57) {
    return "snippet: max_tokens must be a non-negative integer";
  }
  let v = 0;
  while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) {
    v = v * 10 + (s.charCodeAt(j) - 48);
    j++;
  }
  configMaxTokens = v;
  return null;
}

function isSpace(c: u8): bool {
  return c == 32 || (c >= 9 && c <= 13);
}

function passage(qPtr: usize, qLen: i32, dPtr: usize, dLen: i32, kind: u8, out: Output): string | null {
  let inTag = false, space = false, wrote = false;
  for (let i = 0; i < dLen; i++) {
    const c = load<u8>(dPtr + <usize>i);
    if (inTag) {
      if (c == 62) inTag = false; // '>'
      continue;
    }
    if (c == 60) { // '<'
      inTag = true;
      space = true;
      continue;
    }
    if (isSpace(c)) {
      space = true;
      continue;
    }
    if (space && wrote) out.appendByte(32);
    space = false;
    wrote = true;
    out.appendByte(c);
  }
  return null;
}

function truncate(qPtr: usize, qLen: i32, pPtr: usize, pLen: i32, maxTokens: i32, out: Output): string | null {
  let budget = configMaxTokens;
  if (maxTokens > 0 && (budget == 0 || maxTokens < budget)) budget = maxTokens;
  if (budget == 0) {
    out.append(pPtr, pLen);
    return null;
  }
  const n = wordTokens(pPtr, pLen, budget);
  let sum = 0, k = 0;
  while (k < n && sum + wordTokenCount(k) <= budget) {
    sum += wordTokenCount(k);
    k++;
  }
  if (k == 0) return null;
  const start = wordStart(0);
  out.append(pPtr + <usize>start, wordEnd(k - 1) - start);
  return null;
}

register(STAGE_PASSAGE | STAGE_TRUNCATE, configure, null, passage, truncate);
