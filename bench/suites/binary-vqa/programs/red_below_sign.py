def execute_command(image):
    # Question: Is there a red shape below a sign? (a shape: not a sign)
    # below = the object's center is lower than the sign's (vertical_center grows upwards)
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    if len(sign_patches) == 0:
        return "no"
    red_patches = image_patch.find("red object")
    for red_patch in red_patches:
        # the red thing found may be the sign itself: skip boxes that overlap a sign
        if any(red_patch.overlaps_with(s.left, s.lower, s.right, s.upper) for s in sign_patches):
            continue
        for sign_patch in sign_patches:
            if red_patch.vertical_center < sign_patch.vertical_center - 5:
                # confirm the color on the crop before answering yes
                if red_patch.verify_property("object", "red"):
                    return "yes"
    return "no"
