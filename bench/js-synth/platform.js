// The synth-time baseline of issue 10.3: the booking platform written by hand in JavaScript with aws-cdk-lib's L2
// constructs, the way the seed's TapStack built it - the same resources as examples/booking_platform (VPC with
// isolated subnets, flow logs and a DynamoDB gateway endpoint, the prefix-list lookup, a serverless Valkey cache with
// an IAM-auth user, two tables, six functions on one code asset, a REST API with validator, model, gateway
// responses, key and usage plan, the bus with archive, rules, the log subscription, the outbox Pipe to its publisher
// function, the stream consumer, the inventory.updated consumer with its rule and DLQ, Firehose to S3, alarms, the
// X-Ray sampling rule; no dashboard, as the example has none) and the same L2 calls where aws-cdk-lib has them (L1
// only where it has none: ElastiCache, Pipes, the sampling rule, the Firehose stream of the Python code).
// bench/perf_bench.py refuses to time it unless its template has as many resources of each type as the example's
// (test/examples/test_booking_platform.py checks the same), so the two cannot drift apart unnoticed.
// Not deployable as such (handler code is whatever directory is given); what it measures is the synth.
//
// Usage: node platform.js OUTDIR ASSET_DIR ASSET_HASH
//   ASSET_DIR/ASSET_HASH: the handler bundle and its hash (bench/perf_bench.py passes the example's cached bundle,
//   so both apps stage the same bytes with a custom hash: one copy, no content hashing, on either side).
"use strict";
const { performance } = require("perf_hooks");
const started = performance.now(); // ms since the process started: what came before is Node's own start-up
const cdk = require("aws-cdk-lib");
const apigw = require("aws-cdk-lib/aws-apigateway");
const cloudwatch = require("aws-cdk-lib/aws-cloudwatch");
const cwActions = require("aws-cdk-lib/aws-cloudwatch-actions");
const cr = require("aws-cdk-lib/custom-resources");
const dynamodb = require("aws-cdk-lib/aws-dynamodb");
const ec2 = require("aws-cdk-lib/aws-ec2");
const elasticache = require("aws-cdk-lib/aws-elasticache");
const events = require("aws-cdk-lib/aws-events");
const targets = require("aws-cdk-lib/aws-events-targets");
const firehose = require("aws-cdk-lib/aws-kinesisfirehose");
const iam = require("aws-cdk-lib/aws-iam");
const kms = require("aws-cdk-lib/aws-kms");
const lambda = require("aws-cdk-lib/aws-lambda");
const destinations = require("aws-cdk-lib/aws-lambda-destinations");
const sources = require("aws-cdk-lib/aws-lambda-event-sources");
const logs = require("aws-cdk-lib/aws-logs");
const logDestinations = require("aws-cdk-lib/aws-logs-destinations");
const pipes = require("aws-cdk-lib/aws-pipes");
const s3 = require("aws-cdk-lib/aws-s3");
const sns = require("aws-cdk-lib/aws-sns");
const sqs = require("aws-cdk-lib/aws-sqs");
const xray = require("aws-cdk-lib/aws-xray");
const { Duration, RemovalPolicy } = cdk;

const [outdir, assetDir, assetHash] = process.argv.slice(2);
const PERIOD = Duration.minutes(5);

function dlq(scope, id) {
  return new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14),
  });
}

function secureBucket(scope, id, props) {
  return new s3.Bucket(scope, id, {
    encryption: s3.BucketEncryption.S3_MANAGED, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, enforceSSL: true,
    removalPolicy: RemovalPolicy.RETAIN, ...props,
  });
}

class BookingPlatformStack extends cdk.Stack {
  constructor(scope, id) {
    super(scope, id);
    const code = lambda.Code.fromAsset(assetDir, { assetHashType: cdk.AssetHashType.CUSTOM, assetHash });

    // Network: isolated subnets, flow logs, DynamoDB gateway endpoint, prefix-list lookup.
    const flowLogs = new logs.LogGroup(this, "FlowLogs", {
      retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY,
    });
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2, natGateways: 0,
      subnetConfiguration: [{ name: "isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: { All: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
        trafficType: ec2.FlowLogTrafficType.ALL } },
      restrictDefaultSecurityGroup: true,
    });
    const subnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    const lookup = new cr.AwsCustomResource(this, "DynamoDbPrefixList", {
      onUpdate: {
        service: "EC2", action: "describeManagedPrefixLists",
        parameters: { Filters: [{ Name: "prefix-list-name", Values: [`com.amazonaws.${cdk.Aws.REGION}.dynamodb`] }] },
        physicalResourceId: cr.PhysicalResourceId.fromResponse("PrefixLists.0.PrefixListId"),
        outputPaths: ["PrefixLists.0.PrefixListId"],
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false, memorySize: 128,
    });
    const prefixList = lookup.getResponseField("PrefixLists.0.PrefixListId");

    // Cache: serverless Valkey, IAM-auth user in a user group.
    const cacheSg = new ec2.SecurityGroup(this, "CacheSecurityGroup", { vpc, allowAllOutbound: false });
    const user = new elasticache.CfnUser(this, "CacheUser", {
      engine: "valkey", userId: "cba-user", userName: "cba-user", authenticationMode: { Type: "iam" },
      accessString: "on ~* +@all -@dangerous",
    });
    const userGroup = new elasticache.CfnUserGroup(this, "CacheUserGroup", {
      engine: "valkey", userGroupId: "cba-group", userIds: [user.ref],
    });
    const cache = new elasticache.CfnServerlessCache(this, "Cache", {
      engine: "valkey", majorEngineVersion: "8", serverlessCacheName: "cba-cache",
      securityGroupIds: [cacheSg.securityGroupId], subnetIds: vpc.selectSubnets(subnets).subnetIds,
      userGroupId: userGroup.ref,
      cacheUsageLimits: { dataStorage: { maximum: 1, unit: "GB" }, ecpuPerSecond: { maximum: 1000 } },
    });
    const cacheArns = [cache.attrArn, this.formatArn({ service: "elasticache", resource: "user",
      resourceName: "cba-user", arnFormat: cdk.ArnFormat.COLON_RESOURCE_NAME })];

    // Data.
    const table = new dynamodb.Table(this, "Table", {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED, stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: "expiresAt", removalPolicy: RemovalPolicy.RETAIN, deletionProtection: true,
    });
    for (const [name, pk, sk] of [["byDestination", "gsi1pk", "gsi1sk"], ["inventoryByDestination", "gsi2pk", "gsi2sk"]]) {
      table.addGlobalSecondaryIndex({ indexName: name, partitionKey: { name: pk, type: dynamodb.AttributeType.STRING },
        sortKey: { name: sk, type: dynamodb.AttributeType.STRING } });
    }
    const idempotency = new dynamodb.Table(this, "IdempotencyTable", {
      partitionKey: { name: "id", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED, timeToLiveAttribute: "expiration",
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Functions: own role and log group each, one code asset.
    const fn = (id, handler, props) => {
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY,
      });
      const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [logGroup.logGroupArn] }));
      const f = new lambda.Function(this, id, {
        runtime: lambda.Runtime.PYTHON_3_14, architecture: lambda.Architecture.ARM_64, code,
        handler: `cached_booking_api.runtime.handlers.${handler}.handler`, role, memorySize: 512,
        timeout: Duration.seconds(10), tracing: lambda.Tracing.ACTIVE, logGroup,
        loggingFormat: lambda.LoggingFormat.JSON, systemLogLevelV2: lambda.SystemLogLevel.WARN,
        environment: { POWERTOOLS_SERVICE_NAME: id, POWERTOOLS_METRICS_NAMESPACE: "CachedBookingApi",
          POWERTOOLS_LOG_LEVEL: "INFO", TABLE_NAME: table.tableName },
        ...props,
      });
      return { f, role, logGroup };
    };
    const inVpc = (id) => {
      const sg = new ec2.SecurityGroup(this, `${id}SecurityGroup`, { vpc, allowAllOutbound: false });
      for (const port of [6379, 6380]) {
        cacheSg.addIngressRule(sg, ec2.Port.tcp(port), "cache clients");
        sg.addEgressRule(cacheSg, ec2.Port.tcp(port), "to the cache");
      }
      return sg;
    };
    const searchSg = inVpc("Search");
    searchSg.addEgressRule(ec2.Peer.prefixList(prefixList), ec2.Port.tcp(443), "DynamoDB (gateway endpoint)");
    const search = fn("Search", "search", {
      vpc, vpcSubnets: subnets, securityGroups: [searchSg], allowPublicSubnet: false,
      environment: { TABLE_NAME: table.tableName, CACHE_ENDPOINT: cache.attrEndpointAddress,
        CACHE_PORT: cache.attrEndpointPort, CACHE_NAME: cache.ref, CACHE_USER_ID: user.ref },
    });
    search.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["dynamodb:Query", "dynamodb:GetItem",
      "dynamodb:BatchGetItem"], resources: [table.tableArn, `${table.tableArn}/index/*`] }));
    search.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["elasticache:Connect"], resources: cacheArns }));
    const booking = fn("Booking", "bookings", {
      environment: { TABLE_NAME: table.tableName, IDEMPOTENCY_TABLE_NAME: idempotency.tableName },
    });
    booking.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["dynamodb:GetItem", "dynamodb:BatchGetItem",
      "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"], resources: [table.tableArn] }));
    booking.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["dynamodb:GetItem", "dynamodb:PutItem",
      "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources: [idempotency.tableArn] }));

    // API: REST, access logs, validator, model, gateway responses, key + usage plan on the stage.
    const accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY,
    });
    const api = new apigw.RestApi(this, "RestApi", {
      restApiName: "BookingPlatform-BookingApi", endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: true, cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: "prod", accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({ caller: false, httpMethod: true, ip: true,
          protocol: true, requestTime: true, resourcePath: true, responseLength: true, status: true, user: false }),
        loggingLevel: apigw.MethodLoggingLevel.ERROR, dataTraceEnabled: false, tracingEnabled: true,
        metricsEnabled: true, throttlingRateLimit: 500, throttlingBurstLimit: 1000,
        methodOptions: { "/bookings/POST": { throttlingRateLimit: 50, throttlingBurstLimit: 100 } },
      },
      defaultMethodOptions: { apiKeyRequired: true },
      defaultCorsPreflightOptions: { allowOrigins: ["https://booking.example.com"],
        allowMethods: ["GET", "POST", "DELETE", "OPTIONS"], allowHeaders: ["Content-Type", "X-Api-Key", "Idempotency-Key"] },
    });
    const validator = api.addRequestValidator("Validator", { validateRequestParameters: true, validateRequestBody: true });
    api.root.addResource("search").addMethod("GET", new apigw.LambdaIntegration(search.f, { proxy: true }), {
      requestValidator: validator, requestParameters: { "method.request.querystring.destination": true,
        "method.request.querystring.checkIn": true, "method.request.querystring.checkOut": true,
        "method.request.querystring.guests": false, "method.request.querystring.limit": false,
        "method.request.querystring.cursor": false },
    });
    const model = api.addModel("BookingRequestModel", { contentType: "application/json", schema: {
      schema: apigw.JsonSchemaVersion.DRAFT4, type: apigw.JsonSchemaType.OBJECT,
      required: ["listingId", "checkIn", "checkOut", "guests", "customer"],
      properties: {
        listingId: { type: apigw.JsonSchemaType.STRING, minLength: 1, maxLength: 64 },
        checkIn: { type: apigw.JsonSchemaType.STRING, pattern: "^\\d{4}-\\d{2}-\\d{2}$" },
        checkOut: { type: apigw.JsonSchemaType.STRING, pattern: "^\\d{4}-\\d{2}-\\d{2}$" },
        guests: { type: apigw.JsonSchemaType.INTEGER, minimum: 1, maximum: 16 },
        customer: { type: apigw.JsonSchemaType.OBJECT, required: ["name", "email"], properties: {
          name: { type: apigw.JsonSchemaType.STRING, minLength: 1, maxLength: 200 },
          email: { type: apigw.JsonSchemaType.STRING, minLength: 3, maxLength: 254 } } },
      },
    } });
    const bookings = api.root.addResource("bookings");
    const bookingMethod = bookings.addMethod("POST", new apigw.LambdaIntegration(booking.f, { proxy: true }), {
      requestValidator: validator, requestModels: { "application/json": model },
      requestParameters: { "method.request.header.Idempotency-Key": true },
    });
    const one = bookings.addResource("{bookingId}");
    for (const verb of ["GET", "DELETE"]) {
      one.addMethod(verb, new apigw.LambdaIntegration(booking.f, { proxy: true }), {
        requestValidator: validator, requestParameters: { "method.request.path.bookingId": true } });
    }
    const responses = [["BAD_REQUEST_BODY", "VALIDATION_ERROR"], ["BAD_REQUEST_PARAMETERS", "VALIDATION_ERROR"],
      ["INVALID_API_KEY", "FORBIDDEN"], ["MISSING_AUTHENTICATION_TOKEN", "FORBIDDEN"], ["ACCESS_DENIED", "FORBIDDEN"],
      ["THROTTLED", "TOO_MANY_REQUESTS"], ["QUOTA_EXCEEDED", "TOO_MANY_REQUESTS"],
      ["REQUEST_TOO_LARGE", "PAYLOAD_TOO_LARGE"], ["DEFAULT_5XX", "INTERNAL_ERROR"]];
    for (const [type, errorCode] of responses) {
      api.addGatewayResponse(`${errorCode}${type}`, { type: apigw.ResponseType.of(type),
        templates: { "application/json": `{"error": {"code": "${errorCode}", "message": $context.error.messageString, "details": []}}` },
        responseHeaders: { "Access-Control-Allow-Origin": "'https://booking.example.com'", Vary: "'Origin'" } });
    }
    const key = api.addApiKey("ApiKey");
    const plan = api.addUsagePlan("UsagePlan", { throttle: { rateLimit: 100, burstLimit: 200 },
      quota: { limit: 1000000, period: apigw.Period.MONTH },
      apiStages: [{ api, stage: api.deploymentStage, throttle: [{ method: bookingMethod,
        throttle: { rateLimit: 50, burstLimit: 100 } }] }] });
    plan.addApiKey(key);

    // Events: bus + archive, forwarder fed by a log subscription, rules to a partner queue.
    const bus = new events.EventBus(this, "Bus");
    bus.archive("Archive", { eventPattern: { source: ["booking.platform"] }, retention: Duration.days(30) });
    const forwarderDlq = dlq(this, "ForwarderDlq");
    const forwarder = fn("Forwarder", "forwarder", { memorySize: 256, timeout: Duration.seconds(30),
      environment: { EVENT_BUS_NAME: bus.eventBusName, DEAD_LETTER_QUEUE_URL: forwarderDlq.queueUrl } });
    forwarder.f.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(forwarderDlq) });
    forwarder.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["events:PutEvents"],
      resources: [bus.eventBusArn], conditions: { StringEquals: { "events:source": "booking.platform" } } }));
    forwarderDlq.grantSendMessages(forwarder.role);
    new logs.SubscriptionFilter(this, "SearchCompletedSubscription", { logGroup: search.logGroup,
      destination: new logDestinations.LambdaDestination(forwarder.f),
      filterPattern: logs.FilterPattern.literal('{ $.event = "search.completed" }') });
    const topicKey = new kms.Key(this, "AlarmTopicKey", { enableKeyRotation: true });
    const topic = new sns.Topic(this, "AlarmTopic", { masterKey: topicKey, enforceSSL: true });
    topicKey.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"], resources: ["*"] }));
    const partnerDlq = new sqs.Queue(this, "PartnerDlq", { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
    const partnerQueue = new sqs.Queue(this, "PartnerQueue", { encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true, deadLetterQueue: { queue: partnerDlq, maxReceiveCount: 5 } });
    const partner = () => new targets.SqsQueue(partnerQueue, { deadLetterQueue: partnerDlq, retryAttempts: 3 });
    new events.Rule(this, "SearchCompletedRule", { eventBus: bus,
      eventPattern: { source: ["booking.platform"], detailType: ["search.completed"] }, targets: [partner()] });
    new events.Rule(this, "BookingEventsRule", { eventBus: bus,
      eventPattern: { source: ["booking.platform"], detailType: events.Match.prefix("booking.") }, targets: [partner()] });

    // Outbox: the table stream through a Pipe to a publisher function (synchronous), which puts the events on the bus.
    const outboxDlq = dlq(this, "OutboxDlq");
    const publisher = fn("OutboxPublisher", "outbox_publisher", { memorySize: 256, timeout: Duration.seconds(30),
      environment: { EVENT_BUS_NAME: bus.eventBusName, EVENT_SOURCE: "booking.platform" } });
    publisher.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["events:PutEvents"],
      resources: [bus.eventBusArn], conditions: { StringEquals: { "events:source": "booking.platform",
        "events:detail-type": ["booking.confirmed", "booking.cancelled"] } } }));
    const pipeRole = new iam.Role(this, "PipeRole", { assumedBy: new iam.ServicePrincipal("pipes.amazonaws.com") });
    table.grantStreamRead(pipeRole);
    pipeRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"],
      resources: [publisher.f.functionArn] }));
    outboxDlq.grantSendMessages(pipeRole);
    new pipes.CfnPipe(this, "OutboxPipe", { roleArn: pipeRole.roleArn, source: table.tableStreamArn,
      sourceParameters: { dynamoDbStreamParameters: { startingPosition: "TRIM_HORIZON", batchSize: 10,
        maximumRetryAttempts: 10, maximumRecordAgeInSeconds: 86400, deadLetterConfig: { arn: outboxDlq.queueArn } },
      filterCriteria: { filters: [{ pattern: JSON.stringify({ eventName: ["INSERT"], dynamodb: { NewImage: {
        entityType: { S: ["OUTBOX"] }, detailType: { S: ["booking.confirmed", "booking.cancelled"] } } } }) }] } },
      target: publisher.f.functionArn,
      targetParameters: { lambdaFunctionParameters: { invocationType: "REQUEST_RESPONSE" } } });

    // Inbound: inventory.updated from the allowed sources to a consumer function, a DLQ at both hops.
    const inventoryDlq = dlq(this, "InventoryEventsDlq");
    const inventory = fn("InventoryEvents", "inventory_updates", { memorySize: 256, timeout: Duration.seconds(30),
      environment: { TABLE_NAME: table.tableName, INVENTORY_SOURCES: "pms.example,channel-manager.example",
        DEAD_LETTER_QUEUE_URL: inventoryDlq.queueUrl } });
    inventory.f.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(inventoryDlq) });
    inventory.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["dynamodb:GetItem", "dynamodb:PutItem",
      "dynamodb:UpdateItem"], resources: [table.tableArn] }));
    inventoryDlq.grantSendMessages(inventory.role);
    new events.Rule(this, "InventoryEventsRule", { eventBus: bus,
      eventPattern: { source: ["pms.example", "channel-manager.example"], detailType: ["inventory.updated"] },
      targets: [new targets.LambdaFunction(inventory.f, { deadLetterQueue: inventoryDlq, retryAttempts: 8,
        maxEventAge: Duration.hours(24) })] });

    // Invalidation: stream consumer in the VPC.
    const invalidationSg = inVpc("Invalidation");
    const failures = dlq(this, "InvalidationFailures");
    const invalidation = fn("Invalidation", "invalidation", { memorySize: 256, timeout: Duration.seconds(30),
      vpc, vpcSubnets: subnets, securityGroups: [invalidationSg],
      environment: { CACHE_ENDPOINT: cache.attrEndpointAddress, CACHE_NAME: cache.ref } });
    invalidation.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["elasticache:Connect"], resources: cacheArns }));
    invalidation.f.addEventSource(new sources.DynamoEventSource(table, { startingPosition: lambda.StartingPosition.LATEST,
      batchSize: 100, maxBatchingWindow: Duration.seconds(1), bisectBatchOnError: true, retryAttempts: 5,
      maxRecordAge: Duration.hours(1), onFailure: new sources.SqsDlq(failures),
      filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual("MODIFY") })] }));

    // Analytics: Firehose to an encrypted bucket with server access logs.
    const logBucket = secureBucket(this, "AnalyticsAccessLogs", { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }] });
    const bucket = secureBucket(this, "AnalyticsBucket", { lifecycleRules: [{ transitions: [
        { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
        { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) }],
      expiration: Duration.days(400), abortIncompleteMultipartUploadAfter: Duration.days(7) }] });
    bucket.node.defaultChild.loggingConfiguration = { destinationBucketName: logBucket.bucketName,
      logFilePrefix: "analytics/" };  // server access logs by bucket policy, as the Python construct does
    logBucket.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal("logging.s3.amazonaws.com")],
      actions: ["s3:PutObject"], resources: [logBucket.arnForObjects("analytics/*")],
      conditions: { ArnLike: { "aws:SourceArn": bucket.bucketArn }, StringEquals: { "aws:SourceAccount": this.account } } }));
    const deliveryLogs = new logs.LogGroup(this, "DeliveryLogs", { retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY });
    const deliveryStream = deliveryLogs.addStream("S3Delivery");
    const firehoseRole = new iam.Role(this, "FirehoseRole", { assumedBy: new iam.ServicePrincipal("firehose.amazonaws.com") });
    bucket.grantWrite(firehoseRole, "events/*");
    deliveryLogs.grantWrite(firehoseRole);
    const stream = new firehose.CfnDeliveryStream(this, "DeliveryStream", { deliveryStreamType: "DirectPut",
      deliveryStreamEncryptionConfigurationInput: { keyType: "AWS_OWNED_CMK" },
      extendedS3DestinationConfiguration: { bucketArn: bucket.bucketArn, roleArn: firehoseRole.roleArn,
        prefix: "events/dt=!{timestamp:yyyy-MM-dd}/", errorOutputPrefix: "errors/!{firehose:error-output-type}/",
        bufferingHints: { intervalInSeconds: 300, sizeInMBs: 5 }, compressionFormat: "GZIP",
        processingConfiguration: { enabled: true, processors: [{ type: "AppendDelimiterToRecord" }] },
        cloudWatchLoggingOptions: { enabled: true, logGroupName: deliveryLogs.logGroupName,
          logStreamName: deliveryStream.logStreamName } } });
    stream.node.addDependency(firehoseRole);
    const analyticsDlq = dlq(this, "AnalyticsDlq");
    const ruleRole = new iam.Role(this, "AnalyticsRuleRole", { assumedBy: new iam.ServicePrincipal("events.amazonaws.com") });
    ruleRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ["firehose:PutRecord", "firehose:PutRecordBatch"],
      resources: [stream.attrArn] }));
    const analyticsRule = new events.Rule(this, "AnalyticsRule", { eventBus: bus, eventPattern: { source: ["booking.platform"],
      detailType: events.Match.anyOf(events.Match.exactString("search.completed"), events.Match.prefix("booking.")) } });
    analyticsRule.addTarget({ bind: () => ({ arn: stream.attrArn, role: ruleRole,
      deadLetterConfig: { arn: analyticsDlq.queueArn }, retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 86400 } }) });
    analyticsDlq.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.ServicePrincipal("events.amazonaws.com")],
      actions: ["sqs:SendMessage"], resources: [analyticsDlq.queueArn],
      conditions: { ArnEquals: { "aws:SourceArn": analyticsRule.ruleArn } } }));

    // Monitoring: the same alarms (rates and percentiles) to the topic; no dashboard (the example has none).
    const stage = api.deploymentStage;
    const sum = { statistic: "Sum", period: PERIOD };
    const emf = (name, statistic = "Sum") => new cloudwatch.Metric({ namespace: "CachedBookingApi", metricName: name,
      dimensionsMap: { service: "search" }, statistic, period: PERIOD });
    const rate = (expression, label, usingMetrics) => new cloudwatch.MathExpression({ expression, usingMetrics, label,
      period: PERIOD });
    const errorRate = (f) => rate("IF(i > 0, 100 * e / i, 0)", "errors %", { e: f.metricErrors(sum), i: f.metricInvocations(sum) });
    const throttled = new logs.MetricFilter(this, "Throttled429", { logGroup: accessLogs,
      filterPattern: logs.FilterPattern.literal('{ $.status = "429" }'), metricNamespace: "CachedBookingApi",
      metricName: "api-429", metricValue: "1", defaultValue: 0 }).metric(sum);
    const ddbMetric = (metricName, dimensions) => new cloudwatch.Metric({ namespace: "AWS/DynamoDB", metricName,
      dimensionsMap: { TableName: table.tableName, ...dimensions }, ...sum });
    const ddbThrottles = (kind, operation) => rate("FILL(ev, 0) + FILL(rq, 0)", `DynamoDB throttled ${kind}`,
      { ev: ddbMetric(`${kind}ThrottleEvents`, {}), rq: ddbMetric("ThrottledRequests", { Operation: operation }) });
    const cacheMetric = (name, statistic) => new cloudwatch.Metric({ namespace: "AWS/ElastiCache", metricName: name,
      statistic, period: PERIOD, dimensionsMap: { clusterId: cache.ref } });
    const definitions = {
      Api5xxRate: rate("100 * e", "API 5xx %", { e: stage.metricServerError({ statistic: "Average", period: PERIOD }) }),
      ApiLatencyP99: stage.metricLatency({ statistic: "p99", period: PERIOD }),
      SearchErrorRate: errorRate(search.f), SearchThrottles: search.f.metricThrottles(sum),
      BookingErrorRate: errorRate(booking.f),
      DynamoDbThrottles: ddbThrottles("Read", "Query"),
      CacheCircuitOpen: emf("CircuitOpen"), CacheErrors: emf("CacheError"),
      DynamoDbWriteThrottles: ddbThrottles("Write", "TransactWriteItems"),
      InvalidationIteratorAge: invalidation.f.metric("IteratorAge", { statistic: "Maximum", period: PERIOD }),
      CacheEcpuNearLimit: rate("ecpu / 60", "Cache ECPU/s", { ecpu: cacheMetric("ElastiCacheProcessingUnits", "Sum") }),
      CacheStorageNearLimit: cacheMetric("BytesUsedForCache", "Maximum"),
      CacheThrottledCommands: cacheMetric("ThrottledCmds", "Sum"),
      ApiThrottled: rate("IF(r > 0, 100 * t / r, 0)", "API 429 %", { t: throttled, r: stage.metricCount(sum) }),
      OutboxDeadLetters: outboxDlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
      ForwarderDeadLetters: forwarderDlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
      InvalidationDeadLetters: failures.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
      AnalyticsDeadLetters: analyticsDlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
      InventoryEventsDeadLetters: inventoryDlq.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
    };
    for (const [name, metric] of Object.entries(definitions)) {
      const alarm = new cloudwatch.Alarm(this, name, { metric, threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: name });
      alarm.addAlarmAction(new cwActions.SnsAction(topic));
      alarm.addOkAction(new cwActions.SnsAction(topic));
    }

    new xray.CfnSamplingRule(this, "TraceSampling", { samplingRule: { ruleName: "cba-sampling", priority: 1000,
      fixedRate: 0.05, reservoirSize: 0, serviceName: "BookingPlatform-BookingApi/prod",
      serviceType: "AWS::ApiGateway::Stage", host: "*", httpMethod: "*", urlPath: "*", resourceArn: "*", version: 1 } });
    new cdk.CfnOutput(this, "ApiUrl", { value: api.url });
    new cdk.CfnOutput(this, "ApiKeyId", { value: key.keyId });
    new cdk.CfnOutput(this, "TableName", { value: table.tableName });
  }
}

const required = performance.now();
const app = new cdk.App({ outdir });
new BookingPlatformStack(app, "BookingPlatform");
const built = performance.now();
app.synth();
const done = performance.now();
if (process.env.BENCH_PHASES) { // where the time went, for bench/perf_bench.py (the rest of the wall time: exit)
  console.log(JSON.stringify({ node_start_s: started / 1000, require_s: (required - started) / 1000,
    build_s: (built - required) / 1000, synth_s: (done - built) / 1000, in_process_s: done / 1000 }));
}
