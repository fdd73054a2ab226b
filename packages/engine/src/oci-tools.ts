/**
 * The OCI tools a host hands the engine (skopeo + umoci on Linux): pull and push against a
 * registry, and the pack/unpack halves node-to-node template transfer uses on their own.
 */
import type { NetworkPosture, TemplateSpec } from '@mitos/protocol';
import type { TemplateConfig } from './state/template-config.js';
import type { PulledImage } from './templates/oci/pull.js';

/** Pushes a template's tree (at `tree`) with its config to a registry; resolves with the reference. */
export type ImagePusher = (
  tree: string,
  config: TemplateConfig | undefined,
  reference: string,
  onLine: (line: string) => void,
) => Promise<string>;

export interface ImportLayoutOptions {
  id: string;
  layout: string;
  name: string;
  /** The spec the exporting node built it from: its resources become the template's limits. */
  spec?: TemplateSpec;
  network?: NetworkPosture;
  onLine?: (line: string) => void;
}

/** What a host uses to pull and push OCI images (skopeo + umoci on Linux). */
export interface OciTools {
  pull?: ImagePuller;
  push?: ImagePusher;
  /** Images (unpacked layer chains) a pulled image was made from: prune keeps them while it stays. */
  chainsOf?: (imageKey: string) => string[];
  /** Writes a template tree as the image tagged `t` of a new OCI layout; resolves with its manifest digest. */
  pack?: (
    tree: string,
    config: TemplateConfig | undefined,
    layout: string,
    onLine: (line: string) => void,
  ) => Promise<string>;
  /** Unpacks image `name` of a local OCI layout into the image store (digests checked as read). */
  unpack?: (layout: string, name: string, label: string, onLine: (line: string) => void) => Promise<PulledImage>;
}

/** Pulls an OCI image into the image store; absent on hosts without skopeo/umoci. */
export type ImagePuller = (reference: string, onLine: (line: string) => void) => Promise<PulledImage>;
