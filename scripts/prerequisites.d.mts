/** The workerd release the Workers tests and example are written against. */
export declare const WORKERD_VERSION: string;
/** The system Chromium the browser test drives. */
export declare const CHROMIUM: string;
/** Where the workerd binary is (or will be, once ensureWorkerd() has run). */
export declare function workerdPath(): string;
/** Installs workerd from npm if it is missing. Returns null when it is there, else why not. */
export declare function ensureWorkerd(): string | null;
/** Installs Debian's chromium if it is missing and may be. Returns null when it is there, else the line to show. */
export declare function ensureChromium(): string | null;
/** Installs Debian's openssl if it is missing. Returns null when it is there, else the line to show. */
export declare function ensureOpenssl(): string | null;
/** Where the tests find redis-server (WEFT_REDIS_SERVER, else the one on PATH or Debian's). */
export declare function redisServerPath(): string;
/** Installs Debian's redis-server if it is missing. Returns null when it is there, else the line to show. */
export declare function ensureRedis(): string | null;
