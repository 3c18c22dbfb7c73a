import '@testing-library/jest-dom/vitest';
import { setupI18n } from '../lib/i18n';

// The existing component tests read English texts.
setupI18n('en');
