/**
 * What a `runCode` cell produced: rich results keyed by MIME type, the logs, and the error
 * if the cell raised (wire-v1.md 4.9). Shapes follow the seed SDK's `Execution`.
 * @module
 */

/** An exception raised by the cell. */
export interface ExecutionError {
  /** The exception class, e.g. `ValueError`; `TimeoutError` at the deadline. */
  name: string;
  value: string;
  /** Lines of the traceback; may contain ANSI colour codes. */
  traceback: string[];
}

/** The MIME types with a named getter on {@link Result}. */
export const MIME = {
  text: 'text/plain',
  html: 'text/html',
  markdown: 'text/markdown',
  latex: 'text/latex',
  json: 'application/json',
  javascript: 'application/javascript',
  png: 'image/png',
  jpeg: 'image/jpeg',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
} as const;

/**
 * One rich output of a cell. Binary payloads (png, jpeg, pdf) are base64 strings; text
 * types are the text itself.
 */
export class Result {
  /** `text/plain` of the value; set on the main result. */
  readonly text: string | undefined;
  /** Every representation, MIME type -> payload. */
  readonly data: Readonly<Record<string, string>>;
  /** True for the cell's final value (what the REPL would echo), false for display() output. */
  readonly isMainResult: boolean;

  constructor(init: { text?: string | undefined; data: Record<string, string>; isMainResult: boolean }) {
    this.text = init.text || init.data[MIME.text] || undefined;
    this.data = Object.freeze({ ...init.data });
    this.isMainResult = init.isMainResult;
  }

  get html(): string | undefined {
    return this.data[MIME.html];
  }
  get markdown(): string | undefined {
    return this.data[MIME.markdown];
  }
  get latex(): string | undefined {
    return this.data[MIME.latex];
  }
  get javascript(): string | undefined {
    return this.data[MIME.javascript];
  }
  /** Base64 of the PNG bytes. */
  get png(): string | undefined {
    return this.data[MIME.png];
  }
  /** Base64 of the JPEG bytes. */
  get jpeg(): string | undefined {
    return this.data[MIME.jpeg];
  }
  /** The SVG document text. */
  get svg(): string | undefined {
    return this.data[MIME.svg];
  }
  /** Base64 of the PDF bytes. */
  get pdf(): string | undefined {
    return this.data[MIME.pdf];
  }
  /** The `application/json` value, parsed; the raw text if it does not parse. */
  get json(): unknown {
    const raw = this.data[MIME.json];
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }

  /** The MIME types this result carries. */
  formats(): string[] {
    return Object.keys(this.data);
  }

  toJSON(): { text?: string; data: Record<string, string>; isMainResult: boolean } {
    return {
      ...(this.text === undefined ? {} : { text: this.text }),
      data: { ...this.data },
      isMainResult: this.isMainResult,
    };
  }
}

export class Execution {
  readonly results: Result[] = [];
  /** Output in arrival order, one entry per chunk. */
  readonly logs: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };
  error: ExecutionError | undefined;
  /**
   * The cell's status from the exit frame: 0 ok, 1 raised or timed out, 127 no kernel for the
   * language. A mitos addition; the seed SDK drops it.
   */
  exitCode: number | undefined;

  /** The main result's text (the cell's final value), as the REPL would echo it. */
  get text(): string | undefined {
    for (let i = this.results.length - 1; i >= 0; i--) {
      const r = this.results[i];
      if (r?.isMainResult && r.text) return r.text;
    }
    return undefined;
  }

  toJSON(): Record<string, unknown> {
    return {
      text: this.text,
      results: this.results.map((r) => r.toJSON()),
      logs: this.logs,
      error: this.error,
      exitCode: this.exitCode,
    };
  }
}
