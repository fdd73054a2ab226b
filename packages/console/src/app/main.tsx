import { render } from 'preact';
import './styles.css';
import { App } from './views/App.js';
import { applySavedTheme } from './views/theme.js';

applySavedTheme();
render(<App />, document.getElementById('root') as HTMLElement);
