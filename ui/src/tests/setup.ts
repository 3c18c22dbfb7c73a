import { vi } from 'vitest';
import '@testing-library/jest-dom/vitest';
import { setupI18n } from '../lib/i18n';

// The existing component tests read English texts.
setupI18n('en');

// jsdom has no WebGL: MapLibre is replaced at its module boundary (see maplibre-mock.ts).
vi.mock('maplibre-gl', () => import('./maplibre-mock'));
