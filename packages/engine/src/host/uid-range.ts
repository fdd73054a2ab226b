/**
 * The host uid/gid range sandboxes run under. Sandbox uid 0 is host uid `uidBase`; a template
 * tree is shifted into this range once at build time so every sandbox can share it read-only.
 * The range must belong to no real user (see `mitos doctor`): anyone owning host uids in it
 * could read and write sandbox files.
 */
export const DEFAULT_UID_BASE = 100_000;
/** 65536 ids: the whole 16-bit id space a Debian tree uses (nobody/nogroup are 65534). */
export const UID_RANGE_SIZE = 65_536;
