import type { TemplateRecord } from '@mitos/protocol';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { call } from './api.js';

/** GET /v1/templates, with a reload for views that change them. */
export function useTemplates(): { templates: TemplateRecord[]; error: unknown; reload: () => void } {
  const [templates, setTemplates] = useState<TemplateRecord[]>([]);
  const [error, setError] = useState<unknown>();
  const reload = useCallback(() => {
    call<TemplateRecord[]>('GET', '/v1/templates').then(
      (t) => {
        setTemplates(t);
        setError(undefined);
      },
      (err) => setError(err),
    );
  }, []);
  useEffect(reload, [reload]);
  return { templates, error, reload };
}
