/** `node packages/hardening/dist/render.js`: rewrite RELIABILITY.md from the recorded figures. */
import { readAllFigures } from './figures.js';
import { RELIABILITY_PATH, renderReliability } from './report.js';

renderReliability(readAllFigures());
process.stdout.write(`wrote ${RELIABILITY_PATH}\n`);
