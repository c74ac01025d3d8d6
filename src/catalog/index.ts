// The event catalog: names, classes, schemas, samples and the delivery headers.
export * from './delivery-headers.ts';
export * from './events.ts';
export * from './report-columns.ts';
export * from './samples.ts';
export * from './schemas.ts';
