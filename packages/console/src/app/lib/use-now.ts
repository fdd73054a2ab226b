import { useEffect, useState } from 'preact/hooks';

/** The current time, refreshed every `ms`, for ages and deadlines that count on their own. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
