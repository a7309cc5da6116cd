/**
 * How requests and replies flow: one each (unary), one request and a reply stream
 * (serverStream), a request stream and one reply (clientStream), or streams both ways (bidi).
 */
export type Shape = "unary" | "serverStream" | "clientStream" | "bidi";
