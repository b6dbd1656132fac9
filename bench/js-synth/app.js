// The synth-time baseline: a JavaScript aws-cdk-lib app with the same resources as the Python example
// (its synthesized template, included with CfnInclude). Usage: node app.js TEMPLATE OUTDIR
"use strict";
const cdk = require("aws-cdk-lib");
const { CfnInclude } = require("aws-cdk-lib/cloudformation-include");

const [templateFile, outdir] = process.argv.slice(2);
const app = new cdk.App({ outdir });
const stack = new cdk.Stack(app, "BookingPlatform");
new CfnInclude(stack, "Template", { templateFile });
app.synth();
