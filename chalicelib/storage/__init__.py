"""DynamoDB storage through PynamoDB: table schemas, binding them to the configuration, creating them."""
