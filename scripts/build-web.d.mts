// Types for scripts/build-web.mjs, which the gateway imports to build the console when web/dist is missing.
export declare const WEB_DIST: string;
export declare function buildWeb(options?: { outDir?: string }): Promise<{ outDir: string; files: string[] }>;
