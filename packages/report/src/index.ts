/**
 * @synthline/report: a static HTML report with SVG charts from a run's manifest (`synthline
 * report DIR`), and the same charts linked from the dataset card.
 */
export * as Report from "./Report.js"
