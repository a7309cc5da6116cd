/**
 * Names that this instance's connections answer to (a user id, a room, a session), so that
 * `served.emitTo("user:42")` reaches every connection joined to that name, on this instance
 * and, with a broker, on every other: each instance keeps its own connections' names and
 * delivers a named event to those it holds, so no shared table is needed and a connection
 * that moved to another instance is found there. A closed connection leaves its names.
 */
import type { Connection } from "../engine/connection.ts";

const NOBODY: readonly Connection[] = [];

export class Presence {
  readonly #byName = new Map<string, Set<Connection>>();
  readonly #byConnection = new WeakMap<Connection, Set<string>>();
  /**
   * This instance's prefix of connection ids, unique across instances. Made on first use: a
   * Worker may not generate random values at global scope, where `serve()` usually runs.
   */
  #instance: string | undefined;
  readonly #ids = new WeakMap<Connection, string>();
  #nextId = 0;

  /**
   * An id for `connection` that names it on every instance: the connection joins it, so
   * `emitTo(id)` reaches it from wherever it is sent. Hand it to whoever must reach this client.
   */
  idOf(connection: Connection): string {
    let id = this.#ids.get(connection);
    if (id === undefined) {
      this.#instance ??= crypto.randomUUID();
      this.#ids.set(connection, id = `${this.#instance}/${++this.#nextId}`);
      this.join(connection, id);
    }
    return id;
  }

  /** `connection` answers to `name` from now on, until it leaves it or closes. */
  join(connection: Connection, name: string): void {
    if (typeof name !== "string" || name === "") throw new TypeError(`join: a name must be a non-empty string, got ${String(name)}`);
    if (!connection.isOpen) return;
    let names = this.#byConnection.get(connection);
    if (names === undefined) {
      this.#byConnection.set(connection, names = new Set());
      connection.closed.then(() => this.#forget(connection));
    }
    names.add(name);
    let members = this.#byName.get(name);
    if (members === undefined) this.#byName.set(name, members = new Set());
    members.add(connection);
  }

  /** `connection` no longer answers to `name`. */
  leave(connection: Connection, name: string): void {
    this.#byConnection.get(connection)?.delete(name);
    const members = this.#byName.get(name);
    if (members === undefined) return;
    members.delete(connection);
    if (members.size === 0) this.#byName.delete(name);
  }

  /** The names `connection` answers to. */
  namesOf(connection: Connection): string[] {
    return [...(this.#byConnection.get(connection) ?? [])];
  }

  /** This instance's connections that answer to `name`. */
  connections(name: string): Iterable<Connection> {
    return this.#byName.get(name) ?? NOBODY;
  }

  #forget(connection: Connection): void {
    for (const name of this.#byConnection.get(connection) ?? []) this.leave(connection, name);
    this.#byConnection.delete(connection);
  }
}
