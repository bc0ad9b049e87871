/** The bounds of fleet commands (--jobs); kept apart so the parser loads nothing else of fleet/. */
export const DEFAULT_FLEET_JOBS = 4;
export const MAX_FLEET_JOBS = 64;
