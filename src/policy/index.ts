// passfs per-file policy: which opens go through the kernel (passthrough),
// which the daemon serves (mediated, optionally audited) and which are denied.
// See docs/policy.md for the file format.
//
// Daemon use:
//   const policy = loadPolicyFile(file);            // PolicyError on any problem
//   // per open/create:
//   const d = policy.decide({ path, type, uid, gid, pid, access: accessFromFlags(flags, created), size,
//     lazy: { process: () => processInfo(pid, policy.needs), content: (n) => readFirstBytes(n) } });
//   // d.action, d.audit, d.errno; count hits by d.ruleIndex (-1 = default) over policy.rules
// Worker threads: post { text: policy.text, file: policy.file } and loadPolicy() it there.
export { PolicyError, formatIssue } from './errors.js';
export type { PolicyIssue } from './errors.js';
export { ERRNO, errnoName, errnoNumber } from './errno.js';
export { loadPolicy, loadPolicyFile, POLICY_MAX_BYTES } from './load.js';
export { Policy } from './match.js';
export { explain, describeContext } from './explain.js';
export { processInfo } from './proc.js';
export { accessFromFlags, describeAccess, makeContext, normalizePolicyPath, parseAccessSpec, viewOfPath } from './context.js';
export type { ContextOptions } from './context.js';
export { ACTIONS, FILE_TYPES, MODE_KEYWORDS } from './types.js';
export type { Access, Action, Decision, FileType, ModeKeyword, OpenContext, PathView, PolicyNeeds, ProcessInfo, RuleInfo } from './types.js';
