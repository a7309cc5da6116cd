/**
 * The server's contract through reflection (`$weft.describe`, served with
 * `serve(api, server, { reflection: true })`), with a clear error when it is not served.
 */
import { type Connection, RpcError } from "../mod.ts";
import { type ContractDescription, fetchContract, type ProcedureDescription } from "../src/typed/json_schema.ts";
import { CliError, ExitCode } from "./errors.ts";

export type { ContractDescription, ProcedureDescription } from "../src/typed/json_schema.ts";

/** The contract, or exit 4 when the server serves no reflection. */
export async function contractOf(connection: Connection, timeout?: number): Promise<ContractDescription> {
  try {
    return await fetchContract(connection, { timeout });
  } catch (error) {
    if (error instanceof RpcError && error.code === "unimplemented") {
      throw new CliError(
        ExitCode.unknownProcedure,
        `the server serves no reflection ($weft.describe): serve the router with { reflection: true } (${error.message})`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The contract when reflection is served, else null (a call then goes by what it is given). */
export async function contractIfServed(connection: Connection, timeout?: number): Promise<ContractDescription | null> {
  try {
    return await fetchContract(connection, { timeout });
  } catch (error) {
    if (error instanceof RpcError && error.code === "unimplemented") return null;
    throw error;
  }
}

/** The shape of procedure `name` in `contract` (unary, serverStream, ...), or undefined when unknown. */
export function shapeOf(contract: ContractDescription | null, name: string): ProcedureDescription["shape"] | undefined {
  return contract !== null && Object.hasOwn(contract.procedures, name) ? contract.procedures[name].shape : undefined;
}

/** True for the shapes whose input is a stream (client streams and bidi), false for the others and for unknown. */
export function takesStream(shape: ProcedureDescription["shape"] | undefined): boolean {
  return shape === "clientStream" || shape === "bidi";
}
