// The output directory's file names live in output/layout.ts. This re-export stays only while
// src/quota (daily-cap.ts, learned.ts: another owner's files) imports them from here.

export * from './output/layout.js';
