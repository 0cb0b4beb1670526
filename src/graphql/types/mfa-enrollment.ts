import { Field, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A pending TOTP enrolment: add it to an authenticator app, then confirmMfa.' })
export class MfaEnrollment {
  @Field(() => String, { description: 'The base32 secret, for typing in by hand.' })
  secret!: string;

  @Field(() => String)
  otpauthUri!: string;

  @Field(() => String, { description: 'A QR code of otpauthUri, as SVG.' })
  qrCodeSvg!: string;
}
