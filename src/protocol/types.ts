/**
 * The types of a typed protocol: the Standard Schema interface as
 * validators implement it (zod 4, valibot, arktype: switchboard depends on
 * none of them), and the message unions a protocol gives its server and its
 * client. Types only: `switchboard/client` imports this module with
 * `import type`, so it adds nothing to the browser bundle.
 *
 * @module
 */

/** Where an issue lies in the validated value: keys, or segments holding one. */
export type StandardPathSegment = PropertyKey | { readonly key: PropertyKey };

/** One problem a validator found. */
export interface StandardIssue {
  /** For people. */
  readonly message: string;
  /** Where in the value, when the issue is not about the value as a whole. */
  readonly path?: ReadonlyArray<StandardPathSegment> | undefined;
}

/** What `validate` gives: the value (possibly transformed), or the issues. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

/** What a Standard JSON Schema converter takes (Standard Schema 1.1). */
export interface StandardJsonSchemaOptions {
  /** The JSON Schema dialect, such as "draft-2020-12". */
  readonly target: string;
}

/**
 * A Standard Schema (version 1): any validator's schema that carries the
 * `~standard` property. With `jsonSchema` (Standard JSON Schema), it can
 * also describe itself as JSON Schema.
 */
export interface StandardSchema<Input = unknown, Output = Input> {
  /** The interface, under a name no validator uses for anything else. */
  readonly "~standard": {
    /** Always 1. */
    readonly version: 1;
    /** The validator's name, such as "zod" or "valibot". */
    readonly vendor: string;
    /** Checks `value`; sync or async. */
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    /** Carries the types only (never set at run time). */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
    /** Standard JSON Schema, where the validator provides it. */
    readonly jsonSchema?: {
      readonly input: (options: StandardJsonSchemaOptions) => Record<string, unknown>;
      readonly output: (options: StandardJsonSchemaOptions) => Record<string, unknown>;
    };
  };
}

/** The type a schema accepts. */
export type InferInput<Schema extends StandardSchema> = NonNullable<Schema["~standard"]["types"]>["input"];
/** The type a schema gives once valid. */
export type InferOutput<Schema extends StandardSchema> = NonNullable<Schema["~standard"]["types"]>["output"];

/** A protocol's messages one way: a schema of each message's fields (all but `type`), by its `type`. */
export type MessageSchemas = Readonly<Record<string, StandardSchema>>;

/** The messages of a protocol, both ways. */
export interface ProtocolShape {
  /** What clients send, by `type`. */
  readonly client: MessageSchemas;
  /** What the server sends, by `type`. */
  readonly server: MessageSchemas;
}

/**
 * A schema's fields as a frame holds them. An empty object's schema types
 * as `Record<string, never>` (zod 4's `z.object({})`), which no frame can be
 * once `type` is added: there it means no fields at all.
 */
export type FrameFields<Fields> = string extends keyof Fields ? ([Fields[string & keyof Fields]] extends [never] ? Record<never, never> : Fields) : Fields;

/**
 * One message as a frame: its `type` and the schema's fields, as the schema
 * accepts them (`"input"`) or gives them (`"output"`). Public for the docs
 * of {@linkcode ClientMessage} and {@linkcode ServerMessage}, which use it.
 */
export type MessageFrameOf<Schemas extends MessageSchemas, Type extends keyof Schemas & string, Which extends "input" | "output"> =
  & { readonly type: Type }
  & FrameFields<Which extends "input" ? InferInput<Schemas[Type]> : InferOutput<Schemas[Type]>>;

/** Every message a client may send: what its `send` takes. */
export type ClientMessage<P extends ProtocolShape> = {
  [Type in keyof P["client"] & string]: MessageFrameOf<P["client"], Type, "input">;
}[keyof P["client"] & string];

/** A client's message of one type once validated: what the server's handler gets (without `type`). */
export type ReceivedMessage<P extends ProtocolShape, Type extends keyof P["client"] & string> = InferOutput<P["client"][Type]>;

/** Every message the server may send: what its typed `send` and `broadcast` take (without `type`, given apart). */
export type SentMessage<P extends ProtocolShape, Type extends keyof P["server"] & string> = InferInput<P["server"][Type]>;

/**
 * Every message the server sends, as a client receives it: what its
 * `message` event carries. The schema's input type, as the server sends the
 * fields it was given (validated, but not transformed: see
 * `validateOutbound`), so a default or a transform of a server schema is not
 * assumed on the client.
 */
export type ServerMessage<P extends ProtocolShape> = {
  [Type in keyof P["server"] & string]: MessageFrameOf<P["server"], Type, "input">;
}[keyof P["server"] & string];
