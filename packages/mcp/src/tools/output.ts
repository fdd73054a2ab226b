/**
 * What a tool call produces, in MCP's content shape (text, image, embedded resource): MCP is
 * the richest common form, so every adapter converts from it rather than the other way round.
 * @module
 */

export type ToolContent =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string }
  | { type: 'resource'; resource: { uri: string; mimeType: string; text: string } };

export interface ToolOutput {
  content: ToolContent[];
  /** The same result as data, for clients and frameworks that take JSON. */
  structured: Record<string, unknown>;
  isError?: boolean;
}

/** Progress for long calls; MCP turns it into `notifications/progress`. */
export interface ToolCallContext {
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: { progress: number; message: string }) => void) | undefined;
}

export function textOutput(text: string, structured: Record<string, unknown>): ToolOutput {
  return { content: [{ type: 'text', text }], structured };
}

/** Text parts joined, images and resources summarised: for frameworks whose tools return a string. */
export function outputAsText(output: ToolOutput): string {
  return output.content
    .map((part) => {
      if (part.type === 'text') return part.text;
      if (part.type === 'image') return `[${part.mimeType} image, ${Math.round((part.data.length * 3) / 4)} bytes]`;
      return `[${part.resource.mimeType} resource ${part.resource.uri}]\n${part.resource.text}`;
    })
    .join('\n');
}
