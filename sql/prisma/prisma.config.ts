// Prisma 7 reads the datasource URL from here, not from schema.prisma.
// Deliberately import-free: no node_modules sits above sql/, so `defineConfig`
// from "prisma/config" would not resolve. Relative paths are resolved against
// this file, so `prisma --config sql/prisma/prisma.config.ts` works from anywhere.
export default {
  schema: "schema.prisma",
  datasource: {
    // Only migrate/db commands need it; validate and generate run without it.
    url: process.env.DATABASE_URL,
  },
};
