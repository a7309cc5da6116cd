/**
 * A one-package npm registry on 127.0.0.1, for installing a packed tarball the way users
 * install from npm: an `.npmrc` line `@weft:registry=<url>` sends that scope here, and
 * everything else still comes from the default registry. npm, Bun and Deno (`npm:`
 * specifiers, with or without node_modules) all read it.
 *
 * It answers the package document (GET /@scope%2fname, or /@scope/name) and the tarball.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** Requests answered so far ("GET /@weft%2frpc 200"), for a failing test to show. */
  readonly log: readonly string[];
  close(): Promise<void>;
}

/**
 * Serves `tarball` as `manifest.name@manifest.version`. `manifest` is the package.json
 * packed into it (a registry's version document is that, plus `dist`).
 */
export async function serveTarball(tarball: string, manifest: { name: string; version: string }): Promise<LocalRegistry> {
  const bytes = readFileSync(tarball);
  const log: string[] = [];
  const tarballPath = `/${manifest.name}/-/${manifest.name.split("/").pop()}-${manifest.version}.tgz`;
  let url = "";
  const http: HttpServer = createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? "/").split("?")[0]);
    let status = 200;
    if (path === `/${manifest.name}`) {
      const document = {
        name: manifest.name,
        "dist-tags": { latest: manifest.version },
        versions: {
          [manifest.version]: {
            ...manifest,
            _id: `${manifest.name}@${manifest.version}`,
            dist: {
              tarball: `${url}${tarballPath.slice(1)}`,
              shasum: createHash("sha1").update(bytes).digest("hex"),
              integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
            },
          },
        },
      };
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(document));
    } else if (path === tarballPath) {
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
      response.end(bytes);
    } else {
      status = 404;
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: "not found" }));
    }
    log.push(`${request.method} ${request.url} ${status}`);
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => resolve());
  });
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  return {
    url,
    log,
    close: () => new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections?.();
    }),
  };
}
