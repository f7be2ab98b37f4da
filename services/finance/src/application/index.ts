/** Application (command) services: load, fold, decide, append. Plain classes, no Nest imports. */
export * from './command-context';
export * from './command-handler';
export * from './errors';
export * from './invoice.service';
export * from './journal.service';
