/** The pure finance domain: events, money, deciders and errors. No Nest or database imports here. */
export * from './decider';
export * from './errors';
export * from './events';
export * from './invoice';
export * from './journal';
export * from './money';
export * from './postings';
