/** The dsv command-line version (kept in step with apps/cli/package.json). */
export const VERSION = '0.1.0';
