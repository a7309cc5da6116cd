/**
 * Certificates made at test time with `openssl` (scripts/prerequisites.mjs installs it when
 * missing): a throwaway CA, and a server certificate it signs for 127.0.0.1 and localhost.
 * Made once per test process, in a temporary directory, valid for two days.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  /** The CA a client trusts (PEM). */
  ca: string;
  /** The server's certificate (PEM), signed by `ca`, for 127.0.0.1 and localhost. */
  cert: string;
  /** The server's private key (PEM). */
  key: string;
}

let made: TestCertificates | undefined;

export function testCertificates(): TestCertificates {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), "weft-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", at("ca.key"), "-out", at("ca.pem"), "-days", "2", "-subj", "/CN=weft test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
  openssl("req", ...ec, "-keyout", at("server.key"), "-out", at("server.csr"), "-subj", "/CN=localhost");
  writeFileSync(at("server.ext"), [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ].join("\n"));
  openssl("x509", "-req", "-in", at("server.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-CAcreateserial",
    "-out", at("server.pem"), "-days", "2", "-extfile", at("server.ext"));
  made = {
    ca: readFileSync(at("ca.pem"), "utf8"),
    cert: readFileSync(at("server.pem"), "utf8"),
    key: readFileSync(at("server.key"), "utf8"),
  };
  return made;
}
