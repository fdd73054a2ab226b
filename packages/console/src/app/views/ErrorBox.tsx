/** Our error envelope as the server wrote it: code, message, cause, remediation, context. */
import { ApiError } from '../lib/api.js';

export function ErrorBox({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (error === undefined || error === null) return null;
  const envelope =
    error instanceof ApiError
      ? error.envelope
      : {
          code: 'client_error',
          message: String(error instanceof Error ? error.message : error),
          remediation: 'reload the page and retry',
        };
  return (
    <div class="error" role="alert" data-code={envelope.code}>
      <div class="error-head">
        <code>{envelope.code}</code> {envelope.message}
        {onDismiss && (
          <button type="button" class="link" onClick={onDismiss} aria-label="Dismiss error">
            ×
          </button>
        )}
      </div>
      {'cause' in envelope && envelope.cause && <div class="error-cause">{envelope.cause}</div>}
      <div class="error-fix">
        <strong>What to do:</strong> {envelope.remediation}
      </div>
      {'context' in envelope && envelope.context && Object.keys(envelope.context).length > 0 && (
        <pre class="error-context">{JSON.stringify(envelope.context, null, 2)}</pre>
      )}
    </div>
  );
}
