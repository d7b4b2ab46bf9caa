// What the passfs mount forbids (setuid, device nodes, execution, writing),
// and which mounts inside LOWER it may cross. The daemon runs as root, so it
// can read a setuid binary or open a device node wherever the lower mount
// forbids them; the kernel enforces these rules on the FUSE mount's own
// flags only. So the passfs mount is never more permissive than the mount
// LOWER lives on, is nosuid,nodev unless asked otherwise (as mount(8) does
// for user mounts), and crosses into a mount found inside LOWER only when
// that mount forbids nothing the passfs mount allows. Read-only is the one
// flag a mount inside LOWER may add: the lower file system then refuses
// every write the daemon makes there with EROFS, as it would natively.

import {
  MOUNT_ATTR__ATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_STRICTATIME,
  MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_NOSYMFOLLOW, MS_RDONLY, MS_STRICTATIME, ST_NOSYMFOLLOW,
} from '../native/linux.js';

/** The flags a mount inside LOWER must not have unless the passfs mount has them too. */
const MUST_MATCH = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW;

const NAMES: [number, string][] = [
  [MS_RDONLY, 'ro'], [MS_NOSUID, 'nosuid'], [MS_NODEV, 'nodev'], [MS_NOEXEC, 'noexec'], [MS_NOSYMFOLLOW, 'nosymfollow'],
  [MS_NOATIME, 'noatime'], [MS_NODIRATIME, 'nodiratime'], [MS_STRICTATIME, 'strictatime'],
];

/** A mount's statfs flags (f_flags) as the mount(2) flags that mean the same. */
function fromStatfs(f: number): number {
  return (f & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)) | (f & ST_NOSYMFOLLOW ? MS_NOSYMFOLLOW : 0);
}

/** What the user asked of the passfs mount (the CLI's --suid, --dev, --noexec, --ro, --noatime, --nodiratime, --strictatime). */
export interface MountRequest {
  suid: boolean;
  dev: boolean;
  noexec: boolean;
  ro: boolean;
  noatime?: boolean;
  nodiratime?: boolean;
  strictatime?: boolean;
}

/** "nosuid,nodev" for MS_NOSUID | MS_NODEV ("" for none). */
export function flagNames(flags: number): string {
  return NAMES.filter(([bit]) => flags & bit).map(([, name]) => name).join(',');
}

/**
 * The mount(2) flags of the passfs mount, given what was asked and the
 * flags of the mount LOWER lives on; a one-line error when the request
 * would grant what the lower mount forbids (--suid on a nosuid lower).
 * `lowerStatfs`: that mount's statfs f_flags. noexec, nosymfollow and ro
 * on the lower are simply taken over.
 */
export function mountFlags(req: MountRequest, lowerStatfs: number, lower: string): { flags: number } | { error: string } {
  const lowerFlags = fromStatfs(lowerStatfs);
  for (const [asked, bit, opt] of [[req.suid, MS_NOSUID, '--suid'], [req.dev, MS_NODEV, '--dev']] as const) {
    if (asked && lowerFlags & bit) {
      return { error: `${opt}: the lower directory's mount (of ${lower}) is ${flagNames(bit)}, and passfs never grants what the lower mount forbids` };
    }
  }
  let flags = lowerFlags & (MUST_MATCH | MS_RDONLY);
  if (!req.suid) flags |= MS_NOSUID;
  if (!req.dev) flags |= MS_NODEV;
  if (req.noexec) flags |= MS_NOEXEC;
  if (req.ro) flags |= MS_RDONLY;
  if (req.noatime && req.strictatime) return { error: '--noatime and --strictatime: one access-time rule at a time' };
  if (req.noatime) flags |= MS_NOATIME;
  if (req.nodiratime) flags |= MS_NODIRATIME;
  if (req.strictatime) flags |= MS_STRICTATIME;
  return { flags };
}

/**
 * Access times. The kernel keeps none of its own for a FUSE mount's files
 * (it shows the lower file's), and the lower file system updates the lower
 * file's by the rule of the mount it is reached through whenever the daemon,
 * or in passthrough the kernel on the backing file, reads it. So when the
 * passfs mount asks for a rule (noatime, nodiratime, strictatime), the daemon
 * works through a private clone of LOWER's mount with that rule (the mount
 * attributes to set and clear on it); null: the lower mount's own rule
 * (relatime, usually) applies as it is.
 */
export function lowerAtime(mountFlags: number): { set: number; clear: number } | null {
  let set = 0;
  let clear = 0;
  if (mountFlags & MS_NOATIME) { set |= MOUNT_ATTR_NOATIME; clear |= MOUNT_ATTR__ATIME; }
  if (mountFlags & MS_STRICTATIME) { set |= MOUNT_ATTR_STRICTATIME; clear |= MOUNT_ATTR__ATIME; }
  if (mountFlags & MS_NODIRATIME) set |= MOUNT_ATTR_NODIRATIME;
  return set ? { set, clear } : null;
}

/**
 * Of a mount found inside LOWER (its statfs flags), what it forbids and the
 * passfs mount (`mountFlags`) would allow: 0 when the mirror may cross into it.
 */
export function notCrossable(innerStatfs: number, mountFlags: number): number {
  return fromStatfs(innerStatfs) & MUST_MATCH & ~mountFlags;
}
