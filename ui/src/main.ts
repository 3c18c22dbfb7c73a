import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { setupI18n } from './lib/i18n';

// The language before the first screen: the Settings choice, else the system's, else English.
setupI18n();

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target });
