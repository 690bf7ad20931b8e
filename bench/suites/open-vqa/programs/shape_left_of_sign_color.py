def execute_command(image):
    # Question: What color is the shape to the left of the sign?
    # Answer with a color, or "N/A" if no shape is left of the sign.
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    if len(sign_patches) == 0:
        return "N/A"
    sign_patch = sign_patches[0]
    # left of: the shape's center is left of the sign's center
    left_patches = [p for p in image_patch.find("shape") if p.horizontal_center < sign_patch.horizontal_center]
    if len(left_patches) == 0:
        return "N/A"
    # if several, the closest one to the sign is the one meant
    left_patches = sorted(left_patches, key=lambda p: distance(p, sign_patch))
    return left_patches[0].simple_query("What color is the shape?")
