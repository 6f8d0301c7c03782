// The backend simulators live in src/simulator (the demo serves one); tests import them from here.
export * from '../../../src/simulator/index.js';
