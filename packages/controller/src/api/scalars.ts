/**
 * Scalar aliases the CRD generator recognises by name. They are plain TypeScript types for the
 * code that reads objects; the generator turns each into the matching OpenAPI type and format.
 * @module
 */

/** A 32-bit integer (`type: integer, format: int32`). */
export type int32 = number;
/** A 64-bit integer (`type: integer, format: int64`). */
export type int64 = number;
/** A Kubernetes quantity such as `"2"` or `"1Gi"` (`x-kubernetes-int-or-string`). */
export type Quantity = number | string;
/** A Go duration string such as `"30m"` or `"90s"`. */
export type Duration = string;
/** An RFC 3339 timestamp (`format: date-time`). */
export type DateTime = string;
/** Any JSON object, kept as is by the apiserver (`x-kubernetes-preserve-unknown-fields`). */
export type Unstructured = Record<string, unknown>;
