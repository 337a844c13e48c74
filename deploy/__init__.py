"""What builds the deployment (never deployed itself): the CloudFormation template and IAM
policies (cloudformation/), the Lambda package's trim (package.py), nginx's locations (nginx/)."""
