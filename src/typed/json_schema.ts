/**
 * A router's contract as data: each procedure's shape, pinned cmd and JSON Schemas for
 * its input and output; each event's schema. For clients in other languages, docs, and
 * the reflection procedure (`$weft.describe`, geerpc's debug page as data).
 */
import { type ConversionConfig, type JsonSchema, toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import type { Connection } from "../engine/connection.ts";
import { json } from "../codec/json.ts";
import { isEvent, type Schema, type Shape } from "./procedure.ts";
import { flatten, type Router } from "./router.ts";
import { DESCRIBE_PROCEDURE, EVENT_CMD, namePrefix, PROCEDURE_CMD } from "./wire.ts";

/** One procedure of a contract, described. */
export interface ProcedureDescription {
  readonly shape: Shape;
  /** The cmd it is also served on with plain payloads, if pinned. */
  readonly cmd?: number;
  readonly description?: string;
  readonly input: JsonSchema;
  readonly output: JsonSchema;
}

/** One event of a contract, described. */
export interface EventDescription {
  readonly cmd?: number;
  readonly description?: string;
  readonly data: JsonSchema;
}

/** A whole contract, described. */
export interface ContractDescription {
  /** The cmd of calls by name (0xFFFF) and of events by name (0xFFFE). */
  readonly procedureCmd: number;
  readonly eventCmd: number;
  /** Procedures by dotted name. */
  readonly procedures: Readonly<Record<string, ProcedureDescription>>;
  readonly events: Readonly<Record<string, EventDescription>>;
}

/**
 * JSON Schema (draft-07) of one valibot schema. Parts JSON Schema cannot express
 * (transforms, custom checks, Uint8Array) are left open rather than failing the export.
 */
export function schemaOf(schema: Schema, config: ConversionConfig = {}): JsonSchema {
  return toJsonSchema(schema as v.GenericSchema, { errorMode: "ignore", ...config });
}

/** The contract of `routes`, as data (JSON-serialisable). */
export function describe(routes: Router): ContractDescription {
  const procedures: Record<string, ProcedureDescription> = {};
  const events: Record<string, EventDescription> = {};
  for (const { path, definition } of flatten(routes).values()) {
    const common = {
      ...(definition.cmd === undefined ? {} : { cmd: definition.cmd }),
      ...(definition.description === undefined ? {} : { description: definition.description }),
    };
    if (isEvent(definition)) {
      events[path] = { ...common, data: schemaOf(definition.data) };
    } else {
      procedures[path] = {
        shape: definition.shape,
        ...common,
        input: schemaOf(definition.input),
        output: schemaOf(definition.output),
      };
    }
  }
  return { procedureCmd: PROCEDURE_CMD, eventCmd: EVENT_CMD, procedures, events };
}

/**
 * Asks the peer for its contract through the reflection procedure (served when the peer
 * passed `reflection: true` to `serve`).
 */
export async function fetchContract(connection: Connection, options: { timeout?: number } = {}): Promise<ContractDescription> {
  const response = await connection.request(PROCEDURE_CMD, namePrefix(DESCRIBE_PROCEDURE), {
    nonBlocking: true,
    timeout: options.timeout,
  });
  return json.decode(response.payload) as ContractDescription;
}
