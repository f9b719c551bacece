// graphql-js checks the Rust tests run (`node check.mjs COMMAND ...`):
//
//   introspection-query          prints the full introspection query (schema description,
//                                specifiedByURL, repeatable directives, deprecated inputs)
//   compare SDL_FILE JSON_FILE   the committed SDL against a live introspection result: no
//                                breaking or dangerous change either way, and the same
//                                printed schema (descriptions included); exit 1 with the
//                                differences otherwise
import { readFileSync } from "node:fs";
import {
  buildClientSchema,
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from "graphql";

const FULL = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
};

const [command, ...args] = process.argv.slice(2);

if (command === "introspection-query") {
  process.stdout.write(getIntrospectionQuery(FULL));
} else if (command === "compare") {
  const [sdlFile, jsonFile] = args;
  const file = buildSchema(readFileSync(sdlFile, "utf8"));
  const response = JSON.parse(readFileSync(jsonFile, "utf8"));
  if (response.errors) {
    console.error("the introspection failed:", JSON.stringify(response.errors));
    process.exit(1);
  }
  const live = buildClientSchema(response.data);
  const problems = [];
  for (const [from, to, direction] of [
    [file, live, "schema.graphql -> served"],
    [live, file, "served -> schema.graphql"],
  ]) {
    for (const change of [...findBreakingChanges(from, to), ...findDangerousChanges(from, to)]) {
      problems.push(`${direction}: ${change.type}: ${change.description}`);
    }
  }
  const printed = (schema) => printSchema(lexicographicSortSchema(schema));
  const [a, b] = [printed(file), printed(live)];
  if (a !== b) {
    const left = a.split("\n");
    const right = b.split("\n");
    const at = left.findIndex((line, i) => line !== right[i]);
    problems.push(
      `printed schemas differ at line ${at + 1}:\n  schema.graphql: ${left[at]}\n  served:         ${right[at]}`,
    );
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
