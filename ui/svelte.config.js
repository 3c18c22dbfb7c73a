// Svelte compiler options for vite-plugin-svelte and svelte-check. Every component uses runes.
export default {
  compilerOptions: { runes: true },
};
